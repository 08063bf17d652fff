//! mnemo's default backend: SQLite (WAL) + petgraph adjacency + in-memory exact vector search
