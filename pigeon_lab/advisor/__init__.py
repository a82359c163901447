"""The advisor's instruments: ``probe`` (a live deployment's findings) and ``review`` (an
architecture against the design rules, each tied to the scenario that proves it)."""
