"""The JSON API under /api/v1: one router per resource, authorisation and tenancy as dependencies."""

API_PREFIX = "/api/v1"
