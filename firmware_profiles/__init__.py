"""Per-device-model profiles: declarative files, validated at load, that describe how each model behaves."""
