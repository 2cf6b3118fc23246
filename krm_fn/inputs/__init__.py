"""The input model every front end shares: manifests with their origin, one loader, one tenant spec.

objects.py: a manifest (one object) with the file, line, index and YAML node it came from;
loader.py: files, folders and stdin to manifests, `v1/List` flattened;
function_config.py: the tenant spec among manifests, and which processor a functionConfig asks for.
"""
