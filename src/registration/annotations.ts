// Annotations istiod's workload-entry controller reads and writes.
export const ANNOTATION_AUTO_REGISTRATION_GROUP = 'istio.io/autoRegistrationGroup';
export const ANNOTATION_WORKLOAD_CONTROLLER = 'istio.io/workloadController';
export const ANNOTATION_CONNECTED_AT = 'istio.io/connectedAt';
export const ANNOTATION_DISCONNECTED_AT = 'istio.io/disconnectedAt';
