package main

// version is the release this binary was built from. scripts/build.sh sets it
// at link time (-ldflags "-X main.version=$(git describe --always --dirty)");
// the linker can only stamp a package-level string variable, which is why
// this one exists. Nothing assigns it at run time.
var version = "dev"
