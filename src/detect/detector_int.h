/* detector_int.h - the detectors of src/detect/ (private to the folder)
 *
 * One struct mw_detector_ops per kind, each defined in its own file and
 * listed once in the table of mw_detector.c. Nothing outside src/detect/
 * names these: the engine asks mw_detector_of(rule).
 */
#ifndef MW_DETECTOR_INT_H
#define MW_DETECTOR_INT_H

#include "mw_detector.h"

extern const struct mw_detector_ops mw_det_query;     /* det_query.c */
extern const struct mw_detector_ops mw_det_sequence;  /* det_sequence.c */
extern const struct mw_detector_ops mw_det_threshold; /* windows/threshold.c */
extern const struct mw_detector_ops mw_det_distinct;  /* windows/distinct.c */
extern const struct mw_detector_ops mw_det_new_terms; /* windows/new_terms.c */
extern const struct mw_detector_ops mw_det_absence;   /* windows/absence.c */

#endif
