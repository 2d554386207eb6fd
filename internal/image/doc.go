// Package image builds the app image with the local docker CLI and gets it
// onto servers.
//
// With no registry server (or a localhost:PORT one) ferry serves images
// itself: an embedded OCI registry keeps blobs in the user's cache
// directory, filled from the local engine's image export with each layer
// stored uncompressed under its diffID (only layers it lacks are stored;
// nothing is gzipped on either side), and each server's engine pulls
// through an SSH remote port forward, so only the layers a server lacks
// travel. The servers connect while the registry is being filled. With a real registry the usual
// login, push and pull happen, credentials always in the Docker API's auth
// header and never on a command line.
package image
