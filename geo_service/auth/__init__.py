"""Who may do what: users and roles, tokens, sessions, the policy table and the audit log."""

from geo_service.auth.accounts import AccountStore, AuditEntry, User
from geo_service.auth.policy import Requirement, requirement
from geo_service.auth.roles import ROLES, can

__all__ = ["ROLES", "AccountStore", "AuditEntry", "Requirement", "User", "can", "requirement"]
