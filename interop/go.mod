module github.com/rocketgo/rocketgo/interop

go 1.24.0

replace github.com/rocketgo/rocketgo => ../

replace github.com/rocketgo/rocketgo/conformance => ../conformance
