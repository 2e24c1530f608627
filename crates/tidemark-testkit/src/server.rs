//! In-process and child-process `tidemark-server` instances on loopback for tests.
