"""Password hashing, token encryption and API-key hashing."""
