"""The four panes of the app: Runs, Sessions, Logs and Usage; each asks the core for data in workers."""
