"""The protocol clients speak: error codes and the codec (see codec.py)."""

from pigeon_lab.protocol.codec import (
    OPS,
    PIGEON,
    Ack,
    AckError,
    Codec,
    JoinAck,
    LeaveAck,
    Message,
    Op,
    PigeonCodec,
    SendAck,
    SyncAck,
    refusal_code,
)
from pigeon_lab.protocol.errors import ERROR_CODES, SERVER_CODES, ErrorCode, error_code

__all__ = [
    "ERROR_CODES",
    "OPS",
    "PIGEON",
    "SERVER_CODES",
    "Ack",
    "AckError",
    "Codec",
    "ErrorCode",
    "JoinAck",
    "LeaveAck",
    "Message",
    "Op",
    "PigeonCodec",
    "SendAck",
    "SyncAck",
    "error_code",
    "refusal_code",
]
