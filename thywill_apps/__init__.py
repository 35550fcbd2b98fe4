"""thywill applications: one package each."""
