"""Pages above the apps: role home pages and the task page, which gather every stage."""
