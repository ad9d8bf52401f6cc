mkdir -p nix/store
