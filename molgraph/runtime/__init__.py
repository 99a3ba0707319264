"""What every step needs from the machine and the file system: CPUs and threads, the device,
seeding, atomic files, strict JSON, progress. The bottom layer: it imports nothing of molgraph.
"""
