"""Sample frames, pure: phone numbers, input files, deduplication, sampling, integrity report."""
