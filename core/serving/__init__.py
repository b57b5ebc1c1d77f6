"""The serving agent: self-contained, imports nothing else from ``core`` so it ships alone."""

# The agent runtime's version: `charter-agent --version` prints it and the offline kit records it,
# so a preflight can tell which runtime a server has.
AGENT_VERSION = "0.1.0"
