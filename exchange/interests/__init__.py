"""Interests: the introduction step between a listing owner and an interested organization."""
