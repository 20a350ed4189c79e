"""The v1 wire contract: pydantic models of every MQTT payload, and their JSON codec.

Hub and cloud both import this package and nothing else of each other, so it depends on pydantic and the
standard library only. Modules: `fields` (value types), `version` (schema versioning), `identity` (reading
ids), `readings`, `batch`, `status`, `events`, `config` (one message each) and `codec` (bytes in and out).
"""

from broker.contract.batch import MAX_BATCH_READINGS, ReadingBatch
from broker.contract.codec import MESSAGE_TYPES, Message, encode, parse_hub_message, parse_message
from broker.contract.config import AssignedDevice, HubConfig, ScanSettings, UploadSettings
from broker.contract.events import DEVICE_EVENTS, HubEvent, HubEventType
from broker.contract.identity import (
    READING_ID_NAMESPACE,
    READING_ID_STRATEGY,
    reading_id_for,
    reading_identity,
)
from broker.contract.readings import (
    READING_MODELS,
    BaseReading,
    BloodPressureReading,
    DeviceRef,
    GlucoseReading,
    GlucoseSpecimen,
    Meal,
    Reading,
    ReadingKind,
    ReadingSource,
    SampleLocation,
    StatusFlag,
    TimeSource,
    WeightReading,
)
from broker.contract.status import DeviceSeen, HubStatus
from broker.contract.version import SCHEMA_VERSION, VersionedMessage

__all__ = [
    "DEVICE_EVENTS",
    "MAX_BATCH_READINGS",
    "MESSAGE_TYPES",
    "READING_ID_NAMESPACE",
    "READING_ID_STRATEGY",
    "READING_MODELS",
    "SCHEMA_VERSION",
    "AssignedDevice",
    "BaseReading",
    "BloodPressureReading",
    "DeviceRef",
    "DeviceSeen",
    "GlucoseReading",
    "GlucoseSpecimen",
    "HubConfig",
    "HubEvent",
    "HubEventType",
    "HubStatus",
    "Meal",
    "Message",
    "Reading",
    "ReadingBatch",
    "ReadingKind",
    "ReadingSource",
    "SampleLocation",
    "ScanSettings",
    "StatusFlag",
    "TimeSource",
    "UploadSettings",
    "VersionedMessage",
    "WeightReading",
    "encode",
    "parse_hub_message",
    "parse_message",
    "reading_id_for",
    "reading_identity",
]
