"""Compliance: HIPAA reports, appropriateness rules, alerts and the FHIR mapping (shell)."""
