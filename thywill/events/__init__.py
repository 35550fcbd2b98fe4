"""Events: the only way into application code. Each event runs through its flow of
pipes and hook scripts around its handler; what it sent is released when all of it
succeeded."""
