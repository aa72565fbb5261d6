package fromconfig

import (
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/sink/cloudshark"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
)

// S3 maps [s3] onto the S3 sink's configuration.
func S3(c config.S3) s3.Config {
	return s3.Config{
		Bucket: c.Bucket, Folder: c.Folder, ACL: c.ACL, Region: c.Region, Endpoint: c.Endpoint,
		PathStyle: c.PathStyle, Encryption: c.Encryption, KMSKeyID: c.KMSKeyID,
		AccessID: c.AccessID, AccessKey: c.AccessKey,
		AllowBuckets: c.AllowBuckets, AllowEndpoints: c.AllowEndpoints,
		AllowACLs: c.AllowACLs, AllowFolders: c.AllowFolders,
	}
}

// Cloudshark maps [cloudshark] onto the Cloudshark sink's configuration.
func Cloudshark(c config.Cloudshark) cloudshark.Config {
	return cloudshark.Config{
		Host: c.Host, Scheme: c.Scheme, Port: c.Port, Token: c.Token,
		Timeout: c.TimeoutDuration(), Insecure: c.Insecure,
	}
}

// LocalRetention maps [general] localmaxfiles, localmaxbytes and
// localmaxage onto the local sink's bounds.
func LocalRetention(g config.General) local.Retention {
	return local.Retention{MaxFiles: g.LocalMaxFiles, MaxBytes: g.LocalMaxBytes, MaxAge: g.LocalMaxAgeDuration()}
}
