"""The CLAW.AI platform on one machine, with no AWS account and no Docker."""
