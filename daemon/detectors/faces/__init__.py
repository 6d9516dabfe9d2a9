"""Faces: detection, identity embeddings, age and sex, expression. Each role is a small model class."""
