"""Modal screens: help, confirmation, errors, text viewers and small prompts."""
