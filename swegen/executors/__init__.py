"""The executors behind swegen.executor.run_jobs that need more than this machine: Ray
(ray_cluster), the files a job takes with it (shipping) and what a node prepares (node)."""
