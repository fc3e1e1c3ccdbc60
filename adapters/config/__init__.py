"""The configuration files at the adapter edge: pydantic models of the city file, the
policy file and import mappings, which make the domain's plain objects, name the dotted
key of any error, and publish their JSON Schemas (docs/schemas/, `python -m
adapters.config.schemas`)."""
