from krm_fn.cli import entry

entry()
