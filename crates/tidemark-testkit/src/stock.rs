//! The stock `azure-mobile-apps` v4 Node.js server, installed into a cache directory and run on loopback.
