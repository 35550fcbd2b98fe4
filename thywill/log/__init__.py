"""Log components: where thywill reports rejected input and failures."""
