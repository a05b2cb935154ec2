"""What runs tasks: the worker actor, attempt execution, contexts, children and task loops."""
