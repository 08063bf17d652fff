//! mnemo's HTTP layer (axum): router, handlers, error mapping
