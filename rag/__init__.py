"""Retrieval-augmented answers over local documents: passages -> prompt -> answer."""
