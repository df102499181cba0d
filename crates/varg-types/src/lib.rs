//! varg gateway contract (work in progress).
