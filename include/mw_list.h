/* mw_list.h - intrusive doubly linked lists (prev/next in the node,
 * head/tail in the holder), shared by the sequence and window states.
 * Macros rather than functions because the node and holder types differ. */
#ifndef MW_LIST_H
#define MW_LIST_H

#define MW_LIST_UNLINK(list, node)                                                       \
    do {                                                                                 \
        if ((node)->prev)                                                                \
            (node)->prev->next = (node)->next;                                           \
        else                                                                             \
            (list)->head = (node)->next;                                                 \
        if ((node)->next)                                                                \
            (node)->next->prev = (node)->prev;                                           \
        else                                                                             \
            (list)->tail = (node)->prev;                                                 \
        (node)->prev = (node)->next = NULL;                                              \
    } while (0)

#define MW_LIST_APPEND(list, node)                                                       \
    do {                                                                                 \
        (node)->prev = (list)->tail;                                                     \
        (node)->next = NULL;                                                             \
        if ((list)->tail)                                                                \
            (list)->tail->next = (node);                                                 \
        else                                                                             \
            (list)->head = (node);                                                       \
        (list)->tail = (node);                                                           \
    } while (0)

#endif
