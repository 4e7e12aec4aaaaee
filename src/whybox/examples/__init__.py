"""Small example models for tutorials and tests (PyTorch needed; `import whybox` does not import this)."""
