"""``accord demo``: Mrs. Smith's story on a three-hospital consortium, checked end to end."""
