"""The review and approval workflow: lifecycle, tier policy, findings and signatures."""
