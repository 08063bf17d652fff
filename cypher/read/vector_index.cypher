// The options of the entity vector index (its dimension is under
// indexConfig.`vector.dimensions`); no row when it does not exist.
SHOW INDEXES YIELD name, options
WHERE name = 'entity_embedding'
RETURN options
