"""Who is calling: argon2 passwords, console sessions and bearer tokens (stored as hashes), roles."""
