"""pigeon-lab: prove that a Socket.IO messaging system keeps its promises."""

__version__ = "0.1.0"
