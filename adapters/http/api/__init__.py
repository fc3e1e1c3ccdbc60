"""JSON API (/api): every command and query of the CLI, with authentication and the
lifecycle's roles. The actor of every command is the authenticated user.

auth (login, logout, sessions, who is calling), bodies (request bodies), commands (case
steps, the deadline tick), reads (cases, queues, scoreboards, trail, configuration,
projections), reports (patrol reports and the reports), views (answers shared with the
console), deps (what every endpoint takes from its request).
"""
