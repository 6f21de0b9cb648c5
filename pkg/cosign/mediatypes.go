package cosign

// Media types, annotation keys and type strings of cosign's formats.
const (
	// SimpleSigningMediaType is the media type of a legacy signature layer.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SimpleSigningType is the "critical.type" of an image signature payload.
	SimpleSigningType = "cosign container image signature"

	// SignatureAnnotation holds the base64 signature on a legacy layer.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// CertificateAnnotation holds a PEM signing certificate on a legacy layer.
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	// ChainAnnotation holds the PEM certificate chain on a legacy layer.
	ChainAnnotation = "dev.sigstore.cosign/chain"
	// LegacyBundleAnnotation holds a Rekor bundle (SET) on a legacy layer.
	LegacyBundleAnnotation = "dev.sigstore.cosign/bundle"
	// RFC3161Annotation holds an RFC 3161 timestamp on a legacy layer.
	RFC3161TimestampAnnotation = "dev.sigstore.cosign/rfc3161timestamp"

	// BundleMediaType is the Sigstore bundle v0.3 media type, also the
	// artifactType of the referrer manifest that stores it.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// BundleContentAnnotation and BundlePredicateTypeAnnotation are set on
	// a bundle referrer manifest.
	BundleContentAnnotation       = "dev.sigstore.bundle.content"
	BundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// CreatedAnnotation is the OCI creation-time annotation.
	CreatedAnnotation = "org.opencontainers.image.created"

	// SignPredicateType is the predicate type of an image signature
	// statement in the bundle format.
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement v1 "_type".
	StatementType = "https://in-toto.io/Statement/v1"

	// StatementTypeV01 is the in-toto Statement v0.1 "_type", which cosign
	// attests with.
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"

	// EmptyMediaType is the OCI empty descriptor media type ("{}").
	EmptyMediaType = "application/vnd.oci.empty.v1+json"

	// DSSELayerMediaType is the media type of a legacy attestation layer
	// (a DSSE envelope in the sha256-<hex>.att image).
	DSSELayerMediaType = "application/vnd.dsse.envelope.v1+json"
	// PredicateTypeAnnotation names a legacy attestation layer's predicate type.
	PredicateTypeAnnotation = "predicateType"
)

// MaxPayloadSize caps signature payloads, annotations and trust files read
// from a registry or a file. cosign caps payloads at 128 MiB; real
// signatures are a few KiB, so Hallmark is stricter.
const MaxPayloadSize = 4 << 20

// MaxBlobSize caps one blob read from a registry or a file: a bundle or a
// DSSE envelope, which for an attestation carries its predicate (an SBOM
// of several MiB). A verification's total reads are bounded apart, by the
// per-image read budget.
const MaxBlobSize = 64 << 20
