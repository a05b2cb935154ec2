"""Durable execution: durable tasks, their replay log, and the gates of DAG-task conditions."""
