"""What users declare: workflows, tasks, trigger options, conditions and input validation."""
