// rclone as the off-site copy runs it (components/storage/offsite.py): its own command line, built from its module
// at the image's release with the backends and commands the copy uses (S3, and the local disk for tests' checks).
package main

import (
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"
	"github.com/rclone/rclone/cmd"
	_ "github.com/rclone/rclone/cmd/ls"
	_ "github.com/rclone/rclone/cmd/sync"
	_ "github.com/rclone/rclone/cmd/version"
)

func main() { cmd.Main() }
