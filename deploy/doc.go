// Package deploy holds Skyrelay's deployment files (Dockerfile, compose.yml,
// k8s/) and no code: its tests check what can be checked without a
// container engine or a cluster. Every manifest parses; every gateway config
// embedded in them passes the conf package's own strict loader; and every
// port such a config opens is declared wherever that deployment needs it
// (the image's EXPOSE, the compose ports, the Kubernetes Services), derived
// from the config's listen keys rather than listed by hand.
package deploy
