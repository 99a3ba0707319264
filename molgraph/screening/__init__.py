"""Virtual screening: libraries streamed as shards, featurized and scored in worker processes
or on a Dask cluster, checkpointed per shard, assembled into a ranked output; and featurized
library stores to screen again without RDKit. Entry point: ``molgraph.screening.screen``."""
