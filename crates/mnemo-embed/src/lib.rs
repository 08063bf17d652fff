//! Offline text embeddings with fastembed and a dynamically loaded ONNX Runtime
