// Package awsconf loads the AWS configuration the S3 sink, the SQS
// transport and the request command share: the SDK's default chain, with
// the region and static credentials from pcapdaemon's settings on top.
package awsconf
