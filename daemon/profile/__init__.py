"""The shadow profile: what a marketer would infer from the whole library, built from findings."""
